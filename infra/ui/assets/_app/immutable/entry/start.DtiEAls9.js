import{a as r}from"../chunks/V05mbM2t.js";import{y as t}from"../chunks/BIv53DxU.js";export{t as load_css,r as start};
