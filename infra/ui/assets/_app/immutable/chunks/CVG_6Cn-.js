import{w as a}from"./CnVxXc3i.js";import{a as s}from"./C9mhd-rd.js";const r=s("lastNamespace","default",!0),o=a([]);export{r as l,o as n};
