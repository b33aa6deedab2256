import{a as r}from"../chunks/CUf9DJSH.js";import{y as t}from"../chunks/Bsgn4yvu.js";export{t as load_css,r as start};
