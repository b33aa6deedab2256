import{l as o,e as t}from"./4fd3Qss3.js";function w(i,e){o(window,["resize"],()=>t(()=>e(window[i])))}export{w as b};
