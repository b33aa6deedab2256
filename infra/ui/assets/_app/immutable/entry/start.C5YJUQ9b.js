import{a as r}from"../chunks/j2VD9tIi.js";import{y as t}from"../chunks/DkyWFEVp.js";export{t as load_css,r as start};
