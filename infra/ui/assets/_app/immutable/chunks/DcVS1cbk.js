import{l as o,e as t}from"./CnVxXc3i.js";function w(i,e){o(window,["resize"],()=>t(()=>e(window[i])))}export{w as b};
