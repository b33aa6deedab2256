import{a as r}from"../chunks/CF9qxLP6.js";import{y as t}from"../chunks/CGF_4fYq.js";export{t as load_css,r as start};
