import{p as a}from"./Bsgn4yvu.js";const t={get data(){return a.data},get params(){return a.params}},r=t;export{r as p};
