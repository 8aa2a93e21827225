"use strict";
// A worker's timer: browsers slow a hidden tab's own timers down to once a minute, not a worker's, so the
// desk's heartbeat keeps its pace while the agent works in another window.
let timer = null;
onmessage = (ev) => { clearInterval(timer); timer = setInterval(() => postMessage("beat"), ev.data); };
