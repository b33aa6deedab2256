import{a as r}from"../chunks/ByVaO4Sp.js";import{y as t}from"../chunks/ClcZfH6Q.js";export{t as load_css,r as start};
