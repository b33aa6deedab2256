import{R as o}from"./-UyI9lYi.js";import"./KS6SW3ug.js";function n(r,t){throw new o(r,t.toString())}export{n as r};
