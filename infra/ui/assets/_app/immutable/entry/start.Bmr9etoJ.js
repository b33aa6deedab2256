import{a as r}from"../chunks/DxtX9Po1.js";import{y as t}from"../chunks/CJTEvIq7.js";export{t as load_css,r as start};
