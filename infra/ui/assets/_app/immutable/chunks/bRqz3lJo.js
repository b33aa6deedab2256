import{p as a}from"./Ny96eBaK.js";const t={get data(){return a.data},get params(){return a.params}},r=t;export{r as p};
