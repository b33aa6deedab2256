import{a as r}from"../chunks/Dj8h01vM.js";import{y as t}from"../chunks/DafodtCR.js";export{t as load_css,r as start};
