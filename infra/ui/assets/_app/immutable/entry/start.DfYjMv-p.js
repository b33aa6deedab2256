import{a as r}from"../chunks/Bdalqj8U.js";import{y as t}from"../chunks/KS6SW3ug.js";export{t as load_css,r as start};
