import{a as r}from"../chunks/aSnaBfEF.js";import{y as t}from"../chunks/Ny96eBaK.js";export{t as load_css,r as start};
