import{a as r}from"../chunks/Ce-Ex5bK.js";import{y as t}from"../chunks/CPPrXA8b.js";export{t as load_css,r as start};
