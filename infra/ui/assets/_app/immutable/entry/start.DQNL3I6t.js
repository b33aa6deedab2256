import{a as r}from"../chunks/BMhD0m8u.js";import{y as t}from"../chunks/J07agJLM.js";export{t as load_css,r as start};
