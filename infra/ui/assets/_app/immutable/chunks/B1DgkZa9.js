import{R as o}from"./-UyI9lYi.js";import"./Ny96eBaK.js";function n(r,t){throw new o(r,t.toString())}export{n as r};
