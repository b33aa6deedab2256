import{R as o}from"./-UyI9lYi.js";import"./DM8Dy1qe.js";function n(r,t){throw new o(r,t.toString())}export{n as r};
