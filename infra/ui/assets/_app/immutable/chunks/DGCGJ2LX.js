import{R as o}from"./-UyI9lYi.js";import"./CJTEvIq7.js";function n(r,t){throw new o(r,t.toString())}export{n as r};
