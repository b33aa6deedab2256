import{a as r}from"../chunks/DkELN228.js";import{y as t}from"../chunks/DM8Dy1qe.js";export{t as load_css,r as start};
