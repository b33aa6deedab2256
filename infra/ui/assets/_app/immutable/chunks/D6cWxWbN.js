import{a_ as r,a$ as t,b0 as s}from"./4fd3Qss3.js";const e="CoreUser",a=r({namespaceWriteDisabled:()=>!1}),n=()=>t(e)?s(e):a;export{n as c};
