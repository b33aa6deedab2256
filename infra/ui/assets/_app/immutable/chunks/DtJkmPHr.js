import{p as a}from"./DM8Dy1qe.js";const t={get data(){return a.data},get params(){return a.params}},r=t;export{r as p};
