const E={BOOL:"Bool",DATETIME:"Datetime",DOUBLE:"Double",INT:"Int",KEYWORD:"Keyword",TEXT:"Text",KEYWORDLIST:"KeywordList",UNSPECIFIED:"Unspecified"};export{E as S};
