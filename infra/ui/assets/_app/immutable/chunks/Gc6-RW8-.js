import{p as a}from"./CPPrXA8b.js";const t={get data(){return a.data},get params(){return a.params}},r=t;export{r as p};
