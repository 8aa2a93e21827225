"use strict";
// The agent is told a call is offered even when looking elsewhere: a ring tone made with Web Audio (no
// sound file) while the phone rings, and a browser notification where the agent allowed them. The page
// also tells the daemon it is open (heartbeat): a desk closed for long makes its agent not ready.
const Alerts = (() => {
  let audio = null;
  let ringTimer = null;
  let notified = 0;

  function unlock() {  // browsers let a page make sound only after the user touched it
    if (!audio && window.AudioContext) audio = new AudioContext();
    if (audio && audio.state === "suspended") audio.resume();
  }

  function burst() {  // one ring: two mixed tones for 1 s (the Chinese ring-back pattern is 1 s on, 4 s off)
    if (!audio) return;
    const gain = audio.createGain();
    gain.gain.value = 0.08;
    gain.connect(audio.destination);
    for (const hz of [440, 480]) {
      const osc = audio.createOscillator();
      osc.frequency.value = hz;
      osc.connect(gain);
      osc.start();
      osc.stop(audio.currentTime + 1.0);
    }
  }

  function ring(title, body) {
    stop();
    document.body.dataset.ringing = "1";
    document.body.dataset.rings = String(Number(document.body.dataset.rings || 0) + 1);
    burst();
    let rings = 0;
    ringTimer = setInterval(() => { if (++rings >= 10) stop(); else burst(); }, 3000);  // 30 s at most
    if (window.Notification && Notification.permission === "granted") {
      const note = new Notification(title, {body, tag: "desk-offer", requireInteraction: false});
      note.onclick = () => { window.focus(); note.close(); };
      notified += 1;
      document.body.dataset.notified = String(notified);
    }
  }

  function stop() {
    clearInterval(ringTimer);
    ringTimer = null;
    delete document.body.dataset.ringing;
  }

  function askPermission(button) {
    const needed = window.Notification && Notification.permission === "default";
    button.hidden = !needed;
    button.addEventListener("click", async () => {
      unlock();
      if (window.Notification) await Notification.requestPermission();
      button.hidden = !(window.Notification && Notification.permission === "default");
    });
  }

  function heartbeat(send, seconds) {
    const every = Math.max(1000, seconds * 1000 / 4);
    send();
    try {
      const worker = new Worker("/desk/static/heartbeat.js");
      worker.onmessage = send;
      worker.postMessage(every);
    } catch (e) {
      setInterval(send, every);
    }
  }

  document.addEventListener("pointerdown", unlock, {capture: true});
  document.addEventListener("keydown", unlock, {capture: true});
  return {ring, stop, askPermission, heartbeat, unlock};
})();
