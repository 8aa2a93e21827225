"""A private Asterisk 22 for the integration suite: built from ../shared/asterisk/ when missing, run from a
temporary folder on loopback ports, with the project's own asterisk/conf/ installed as the README says.

Layout (``asterisk.conf [directories]`` as ../shared/asterisk/README.md shows): DIR/etc (every .conf),
DIR/data/sounds (prompts: ``callcenter prompts build`` writes there), DIR/log/cdr-csv/Master.csv, DIR/run.

The lab's own dialplan (``extensions.conf``, beside the #include of the shipped file) plays the phones:
- ``[lab-trunk]`` the hotline number, sent to [cc-incoming] as the README's step 1 says;
- ``[lab-caller]`` the citizen's phone (the ;2 half of ``Local/s@lab-caller``): Answer, optional SendDTMF,
  Wait(patience), Hangup;
- ``[lab-agents]`` agent phones (``Local/<ext>@lab-agents``): 1000-1049 ring, answer after
  AGENT_ANSWER_DELAY, talk AGENT_TALK and hang up; 1050-1059 never answer; 1060-1069 are busy.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_SH = REPO.parent / "shared" / "asterisk" / "build.sh"
PREFIX = Path(os.environ.get("CALLCENTER_ASTERISK_PREFIX", "/opt/asterisk-22.10.1"))
HOTLINE = "12345"
AGI_SCRIPT = "ivr"

#: modules that listen on the network, need hardware, or talk to outside services: never loaded in the lab
NOLOAD = (
    "chan_iax2", "chan_unistim", "chan_mgcp", "chan_skinny", "chan_motif", "chan_dahdi", "chan_console",
    "chan_alsa", "chan_oss", "chan_audiosocket", "chan_rtp", "pbx_dundi", "res_hep", "res_hep_rtcp", "res_hep_pjsip",
    "res_phoneprov", "res_xmpp", "res_stun_monitor", "res_smdi", "res_snmp", "res_calendar", "res_statsd",
    "res_config_ldap", "res_config_pgsql", "res_config_odbc", "res_odbc", "cdr_radius", "cel_radius", "cdr_pgsql",
    "cel_pgsql", "cdr_tds", "cel_tds", "cdr_odbc", "cel_odbc", "cdr_sqlite3_custom", "cel_sqlite3_custom",
    "res_http_websocket", "res_ari", "res_aeap", "res_speech_aeap", "res_prometheus", "res_pktccops",
    "res_rtp_multicast", "res_fax", "res_fax_spandsp", "app_festival", "pbx_lua", "pbx_ael", "res_geolocation",
    "chan_websocket", "res_websocket_client", "res_audiosocket", "res_cdrel_custom", "res_ari_applications",
    "res_ari_asterisk", "res_ari_bridges", "res_ari_channels", "res_ari_device_states", "res_ari_endpoints",
    "res_ari_events", "res_ari_model", "res_ari_playbacks", "res_ari_recordings", "res_ari_sounds",
)


def ensure_built() -> Path:
    """The prefix with sbin/asterisk; builds it (minutes, once per machine) when it is missing or unfinished
    (build.sh leaves PREFIX/.built-<sha> last)."""
    if not (PREFIX / "sbin" / "asterisk").exists() or not any(PREFIX.glob(".built-*")):
        subprocess.run(["bash", str(BUILD_SH), str(PREFIX)], check=True)
    return PREFIX


def write_silence(path: Path, seconds: float = 1.0) -> None:
    """A WAV Asterisk can play (8 kHz mono 16-bit): music on hold needs at least one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<h", 0) * int(8000 * seconds))


LAB_DIALPLAN = """
[general]
static = yes
writeprotect = yes
clearglobalvars = no

[default]
exten => s,1,Hangup()

; the citizen's phone. LAB_PATIENCE: seconds on the line after answer; LAB_DTMF keys sent after LAB_DTMF_DELAY.
[lab-caller]
exten => s,1,Answer()
 same => n,GotoIf($["${{LAB_DTMF}}" = ""]?wait)
 same => n,Wait(${{IF($["${{LAB_DTMF_DELAY}}" = ""]?1:${{LAB_DTMF_DELAY}})}})
 same => n,SendDTMF(${{LAB_DTMF}},250)
 same => n(wait),Wait(${{IF($["${{LAB_PATIENCE}}" = ""]?60:${{LAB_PATIENCE}})}})
 same => n,UserEvent(LabCallerGaveUp,Call: ${{LAB_CALL}})
 same => n,Hangup()

; agent phones. LAB_CALL / AGENT_TALK / AGENT_ANSWER_DELAY come from the caller (__ variables, through Dial).
[lab-agents]
exten => _1XXX,1,Ringing()
 same => n,Wait(${{IF($["${{AGENT_ANSWER_DELAY}}" = ""]?1:${{AGENT_ANSWER_DELAY}})}})
 same => n,Answer()
 same => n,UserEvent(LabAgentAnswered,Call: ${{LAB_CALL}},Agent: ${{EXTEN}})
 same => n,Wait(${{IF($["${{AGENT_TALK}}" = ""]?2:${{AGENT_TALK}})}})
 same => n,Hangup()
exten => _105X,1,Ringing()
 same => n,UserEvent(LabAgentRang,Call: ${{LAB_CALL}},Agent: ${{EXTEN}})
 same => n,Wait(3600)
exten => _106X,1,UserEvent(LabAgentRang,Call: ${{LAB_CALL}},Agent: ${{EXTEN}})
 same => n,Busy(5)
; 107X: an agent who stays on the line 30 s after answering (a callback's agent waits for the citizen)
exten => _107X,1,Ringing()
 same => n,Wait(1)
 same => n,Answer()
 same => n,UserEvent(LabAgentAnswered,Call: ${{LAB_CALL}},Agent: ${{EXTEN}})
 same => n,Wait(30)
 same => n,Hangup()

; citizens called back (callbacks.trunk Local/{{number}}@lab-citizen): 9XXX answer and talk 1 s, 8XXX never answer
[lab-citizen]
exten => _9XXX,1,Answer()
 same => n,Wait(1)
 same => n,Hangup()
exten => _8XXX,1,Ringing()
 same => n,Wait(3600)
"""


@dataclass
class Lab:
    """One private Asterisk: its folder, ports, and the AMI users the daemon and the test log in with."""

    root: Path
    prefix: Path
    ami_port: int
    agi_port: int
    secret: str = "lab-daemon-secret-0123456789"
    test_user: str = "labtest"
    test_secret: str = "lab-test-secret"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def sounds(self) -> Path:
        return self.root / "data" / "sounds"

    @property
    def master_csv(self) -> Path:
        return self.root / "log" / "cdr-csv" / "Master.csv"

    @property
    def agi_url(self) -> str:
        return f"agi://127.0.0.1:{self.agi_port}/{AGI_SCRIPT}"

    # -- files ----------------------------------------------------------------------------------------

    def write_base(self) -> None:
        """What a bare Asterisk install has before the centre touches it (no samples: only what we need)."""
        for sub in ("etc", "lib", "data/sounds", "data/moh", "agi-bin", "spool", "run", "log/cdr-csv", "cache"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        r, p = self.root, self.prefix
        (r / "asterisk.conf").write_text(
            "[directories]\n"
            f"astetcdir => {r}/etc\nastmoddir => {p}/lib/asterisk/modules\nastvarlibdir => {r}/lib\n"
            f"astdbdir => {r}/lib\nastkeydir => {r}/lib\nastdatadir => {r}/data\nastagidir => {r}/agi-bin\n"
            f"astspooldir => {r}/spool\nastrundir => {r}/run\nastlogdir => {r}/log\nastsbindir => {p}/sbin\n"
            f"astcachedir => {r}/cache\n\n[options]\nverbose = 3\ndebug = 0\nhideconnect = yes\n"
        )
        modules = "[modules]\nautoload = yes\n" + "".join(f"noload => {m}.so\n" for m in NOLOAD)
        files = {
            "modules.conf": modules,
            "logger.conf": "[general]\n[logfiles]\nmessages => notice,warning,error,verbose\n",
            "manager.conf": "[general]\nenabled = yes\nwebenabled = no\nbindaddr = 127.0.0.1\n"
                            f"port = {self.ami_port}\nallowmultiplelogin = yes\n\n"
                            f"[{self.test_user}]\nsecret = {self.test_secret}\ndeny = 0.0.0.0/0.0.0.0\n"
                            "permit = 127.0.0.1/255.255.255.255\nread = all\nwrite = all\n",
            "http.conf": "[general]\nenabled = no\n",
            "musiconhold.conf": f"[default]\nmode = files\ndirectory = {r}/data/moh\n",
            "extensions.conf": LAB_DIALPLAN.format(),
            "queues.conf": "[general]\npersistentmembers = no\n",
            "cdr.conf": "[general]\nenable = yes\n",
            "rtp.conf": "[general]\nrtpstart = 30000\nrtpend = 30100\n",
            "indications.conf": "[general]\ncountry = cn\n\n[cn]\ndescription = China\nringcadence = 1000,4000\n"
                                "dial = 450\nbusy = 450/350,0/350\nring = 450/1000,0/4000\n"
                                "congestion = 450/700,0/700\ncallwaiting = 450/400,0/4000\n",
        }
        for name, text in files.items():
            (self.etc / name).write_text(text, encoding="utf-8")
        write_silence(r / "data" / "moh" / "silence.wav")
        # The core registers its config options against the XML documentation under astdatadir: without it
        # "Stasis initialization failed. ASTERISK EXITING!" (not in ../shared/asterisk/README.md).
        (r / "data" / "documentation").symlink_to(p / "var" / "lib" / "asterisk" / "documentation")

    # -- process --------------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        log = (self.root / "asterisk.out").open("ab")
        try:
            self.proc = subprocess.Popen(
                [str(self.prefix / "sbin" / "asterisk"), "-C", str(self.root / "asterisk.conf"), "-f", "-n"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"asterisk exited with {self.proc.returncode}: see {self.root}/asterisk.out")
            if self._banner():
                self.cli("core waitfullybooted")
                return
            time.sleep(0.2)
        raise TimeoutError(f"no AMI banner on 127.0.0.1:{self.ami_port} within {timeout} s")

    def _banner(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ami_port), timeout=1) as s:
                return s.recv(64).startswith(b"Asterisk Call Manager")
        except OSError:
            return False

    def cli(self, command: str) -> str:
        """``asterisk -rx`` against this instance (its asterisk.ctl under DIR/run)."""
        out = subprocess.run(
            [str(self.prefix / "sbin" / "asterisk"), "-C", str(self.root / "asterisk.conf"), "-rx", command],
            capture_output=True, timeout=30, check=False)
        return out.stdout.decode("utf-8", "replace")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.cli("core stop now")
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def hang_up_everything(self) -> None:
        """Between tests: no channel of one test lives on into the next."""
        self.cli("channel request hangup all")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "0 active channels" not in self.cli("core show channels count"):
            time.sleep(0.2)

    def log_text(self, since: int = 0) -> str:
        """Asterisk's log (from byte ``since``: a ``log_size()`` taken earlier, to see one test's lines)."""
        path = self.root / "log" / "messages"
        if not path.exists():
            return ""
        with path.open("rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", errors="replace")

    def log_size(self) -> int:
        path = self.root / "log" / "messages"
        return path.stat().st_size if path.exists() else 0


def copy_prompts(src: Path, lab: Lab) -> None:
    """Put prompts built elsewhere where this PBX reads them (DIR/data/sounds)."""
    shutil.copytree(src, lab.sounds, dirs_exist_ok=True)
