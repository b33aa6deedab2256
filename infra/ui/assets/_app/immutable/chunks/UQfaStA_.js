import{p as a}from"./KS6SW3ug.js";const t={get data(){return a.data},get params(){return a.params}},r=t;export{r as p};
