import{a as r}from"../chunks/DycjPufL.js";import{y as t}from"../chunks/Qe10AQey.js";export{t as load_css,r as start};
