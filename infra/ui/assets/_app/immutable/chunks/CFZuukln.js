import{w as a}from"./4fd3Qss3.js";import{a as s}from"./B6qHph9h.js";const r=s("lastNamespace","default",!0),o=a([]);export{r as l,o as n};
