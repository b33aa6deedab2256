import{aZ as r,a_ as t,a$ as a}from"./CnVxXc3i.js";const e="CoreUser",s=r({namespaceWriteDisabled:()=>!1}),n=()=>t(e)?a(e):s;export{n as c};
