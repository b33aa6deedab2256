import{a as r}from"../chunks/D3DrkV0J.js";import{y as t}from"../chunks/Bsi-qI_u.js";export{t as load_css,r as start};
