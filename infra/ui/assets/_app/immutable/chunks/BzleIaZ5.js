import{p as a}from"./BIv53DxU.js";const t={get data(){return a.data},get params(){return a.params}},r=t;export{r as p};
