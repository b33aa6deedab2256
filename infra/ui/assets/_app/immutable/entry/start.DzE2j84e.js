import{a as r}from"../chunks/DnA3ewID.js";import{y as t}from"../chunks/mmgvwdZJ.js";export{t as load_css,r as start};
