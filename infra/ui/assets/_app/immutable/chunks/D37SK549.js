import{w as a}from"./BUxQGDM3.js";import{a as s}from"./C6hDbRdI.js";const r=s("lastNamespace","default",!0),o=a([]);export{r as l,o as n};
