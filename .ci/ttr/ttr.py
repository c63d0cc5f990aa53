#!/usr/bin/python3
"""Time-to-recovery trials of a failed compute host on the Nova bed (.ci/novabed).

    ttr.py setup URL                  segment "ttr" (recovery method auto) with hosts
                                      compute1 and compute2 in the engine at URL
    ttr.py engine URL N LABEL         kill compute1, post a COMPUTE_HOST notification to
                                      the engine at URL, time the recovery
    ttr.py floor-forced N LABEL       kill compute1, force its service down, evacuate
                                      the N servers at once with plain Nova calls
    ttr.py floor-heartbeat N LABEL    kill compute1, wait until Nova reports it down
                                      (service_down_time), then evacuate at once
    ttr.py cleanup                    recover compute1, delete the trial servers

Every trial starts clean: N servers booted on compute1 (metadata HA_Enabled=True),
all ACTIVE. It waits for the machine's 1-minute load to fall under TTR_MAX_LOAD
(TTR_LOAD_WAIT seconds at most), then for compute1's next heartbeat, so that every trial
fails the host at the same point of the heartbeat cycle. The failure: compute1's
nova-compute gets SIGKILL, and t0 is the moment it is gone; the notification (or the
floor's first call) goes out right then. A poller reads Nova every 0.5 s; TTR is t0 to
the first sample in which every server is ACTIVE on compute2. Results:
$TTR_OUT/results.tsv (a line a trial) and $TTR_OUT/runs/LABEL/trial.json (every
sample and event).
"""
import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
NOVABED = os.environ.get('NOVABED', os.path.join(HERE, '..', 'novabed'))
OUT = os.environ.get('TTR_OUT', '/var/tmp/ttr')
NOVA = 'http://127.0.0.1:%s/v2.1' % os.environ.get('NOVABED_NOVA_PORT', '8774')
TOKEN = 'admin:admin'                         # the bed's noauth2: user:project
# the trial servers live in a project of their own, with its own quota (10
# instances), whatever other tests left in project admin
BOOT_TOKEN = 'admin:ttr'
IMAGE, FLAVOR = '155d900f-4e14-4e4c-a73d-069cbf4541e6', '1'
PREFIX = 'ttr-'
POLL = 0.5
TIMEOUT = float(os.environ.get('TTR_TIMEOUT', '900'))
MAX_LOAD = float(os.environ.get('TTR_MAX_LOAD', '0'))      # 0: do not wait
LOAD_WAIT = float(os.environ.get('TTR_LOAD_WAIT', '600'))
ENGINES = os.path.join(OUT, 'engines.json')   # URL -> segment and host ids
# Masakari refuses a notification like one generated less than this long ago
DUP_INTERVAL = float(os.environ.get('TTR_DUP_INTERVAL', '180'))
FINAL = ('finished', 'error', 'failed', 'ignored')

S = requests.Session()


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%S.%f')[:-3]


def log(*a):
    print('[%s]' % iso(time.time()), *a, flush=True)


def loadavg():
    return open('/proc/loadavg').read().split()[0]


def call(base, method, path, body=None, headers=None, ok=(200, 201, 202, 204), retries=1):
    h = {'Content-Type': 'application/json', **(headers or {})}
    for i in range(retries):
        r = S.request(method, base + path, headers=h, timeout=90,
                      data=json.dumps(body) if body is not None else None)
        if r.status_code in ok:
            return r.json() if r.content else None
        if r.status_code >= 500 and i + 1 < retries:   # the bed's SQLite, rarely
            log('%s %s -> %d, retrying' % (method, path, r.status_code))
            time.sleep(0.5)
            continue
        raise RuntimeError('%s %s -> %d %s' % (method, base + path, r.status_code, r.text[:300]))


def nova(method, path, body=None, mv='2.74', **kw):
    return call(NOVA, method, path, body, {'X-Auth-Token': TOKEN,
                                           'OpenStack-API-Version': 'compute ' + mv},
                retries=5, **kw)


def engine(url, method, path, body=None, mv='1.1', **kw):
    return call(url, method, path, body, {'X-Auth-Token': TOKEN,
                                          'OpenStack-API-Version': 'instance-ha ' + mv}, **kw)


def servers():
    return nova('GET', '/servers/detail?all_tenants=1&name=^' + PREFIX)['servers']


def service(host='compute1'):
    return nova('GET', '/os-services?binary=nova-compute&host=' + host, mv='2.53')['services'][0]


def compute_sh(action, host='compute1'):
    t = time.time()
    r = subprocess.run(['bash', os.path.join(NOVABED, 'compute.sh'), action, host],
                       capture_output=True, text=True)
    log('compute.sh %s %s: rc %d in %.1f s: %s' % (action, host, r.returncode, time.time() - t,
                                                  (r.stdout + r.stderr).strip().replace('\n', ' | ')))
    if r.returncode:
        raise RuntimeError('compute.sh %s %s failed' % (action, host))


def kill_compute1():
    """The host dies: SIGKILL compute1's nova-compute (the PID the bed recorded), no
    graceful stop; compute.sh recover starts it again."""
    pids = os.path.join(os.environ.get('NOVABED_STATE', '/var/tmp/novabed'), 'run', 'pids')
    pid = [int(ln.split()[1]) for ln in open(pids) if ln.startswith('nova-compute-compute1 ')][-1]
    if b'compute1.conf' not in open('/proc/%d/cmdline' % pid, 'rb').read():
        raise RuntimeError('pid %d is not compute1\'s nova-compute' % pid)
    os.kill(pid, signal.SIGKILL)
    while os.path.exists('/proc/%d' % pid) and b'State:\tZ' not in open(
            '/proc/%d/status' % pid, 'rb').read():
        time.sleep(0.01)


def engines():
    return json.load(open(ENGINES)) if os.path.exists(ENGINES) else {}


# ------------------------------------------------------------------ set-up ---
def setup(url):
    seg = next((s for s in engine(url, 'GET', '/segments')['segments'] if s['name'] == 'ttr'), None)
    if not seg:
        seg = engine(url, 'POST', '/segments', {'segment': {
            'name': 'ttr', 'recovery_method': 'auto', 'service_type': 'COMPUTE'}})['segment']
    ids = {'segment': seg['uuid']}
    have = {h['name']: h for h in engine(url, 'GET', '/segments/%s/hosts' % seg['uuid'])['hosts']}
    for name in ('compute1', 'compute2'):
        if name not in have:
            have[name] = engine(url, 'POST', '/segments/%s/hosts' % seg['uuid'], {'host': {
                'name': name, 'type': 'COMPUTE', 'control_attributes': 'SSH'}})['host']
        ids[name] = have[name]['uuid']
    all_ = engines()
    all_[url] = ids
    json.dump(all_, open(ENGINES, 'w'), indent=1)
    log('%s: segment %s, hosts %s' % (url, ids['segment'], ids))


def cleanup():
    svc = service()
    if svc['state'] != 'up' or svc['status'] != 'enabled' or svc['forced_down']:
        compute_sh('recover')
    for s in servers():
        nova('DELETE', '/servers/' + s['id'], ok=(204, 404))
    for _ in range(240):
        if not servers():
            break
        time.sleep(0.5)
    else:
        raise RuntimeError('trial servers not deleted')
    svc = service()
    if svc['state'] != 'up' or svc['status'] != 'enabled' or svc['forced_down']:
        raise RuntimeError('compute1 not clean: %s' % svc)
    # an engine puts the failed host on maintenance; the next trial needs it back
    for url, ids in engines().items():
        path = '/segments/%s/hosts/%s' % (ids['segment'], ids['compute1'])
        try:
            if engine(url, 'GET', path)['host']['on_maintenance']:
                engine(url, 'PUT', path, {'host': {'on_maintenance': False}})
                log('%s: compute1 off maintenance' % url)
        except (requests.RequestException, RuntimeError) as e:
            log('%s: skipped (%s)' % (url, str(e)[:80]))
    log('clean: no trial servers, compute1 up and enabled')


def boot(n, tag):
    t = time.time()
    for i in range(n):
        call(NOVA, 'POST', '/servers', {'server': {
            'name': '%s%s-%d' % (PREFIX, tag, i), 'imageRef': IMAGE, 'flavorRef': FLAVOR,
            'networks': 'none', 'host': 'compute1', 'metadata': {'HA_Enabled': 'True'}}},
            {'X-Auth-Token': BOOT_TOKEN, 'OpenStack-API-Version': 'compute 2.74'}, retries=5)
    for _ in range(600):
        ss = servers()
        if any(s['status'] == 'ERROR' for s in ss):
            raise RuntimeError('boot: server in ERROR')
        if len(ss) == n and all(s['status'] == 'ACTIVE' and
                                s['OS-EXT-SRV-ATTR:hypervisor_hostname'] == 'compute1' for s in ss):
            log('%d servers ACTIVE on compute1 in %.1f s' % (n, time.time() - t))
            return [s['id'] for s in ss]
        time.sleep(0.5)
    raise RuntimeError('boot: timeout')


def quiet():
    """Wait (LOAD_WAIT s at most) for the 1-minute load to fall under MAX_LOAD."""
    t = time.time()
    while MAX_LOAD and float(loadavg()) >= MAX_LOAD and time.time() - t < LOAD_WAIT:
        time.sleep(5)
    log('load %s after waiting %.0f s' % (open('/proc/loadavg').read().strip(), time.time() - t))


def after_heartbeat():
    """Return just after compute1's next report to Nova (report_interval 5 s)."""
    last = service()['updated_at']
    for _ in range(100):
        time.sleep(0.1)
        if service()['updated_at'] != last:
            return
    raise RuntimeError('compute1 does not report in')


# ------------------------------------------------------------------ poller ---
class Poller:
    def __init__(self, n, url=None, notification=None):
        self.n, self.url, self.notification = n, url, notification
        self.samples, self.first, self.done_at = [], {}, {}
        self.final = None

    def mark(self, event, t):
        if event not in self.first:
            self.first[event] = t
            log('event', event)

    def tick(self):
        t = time.time()
        ss, svc = servers(), service()
        sample = {'t': t, 'service': [svc['state'], svc['status'], svc['forced_down']],
                  'servers': {s['id']: [s['status'], s['OS-EXT-SRV-ATTR:hypervisor_hostname'],
                                        s['OS-EXT-STS:task_state']] for s in ss}}
        if svc['forced_down']:
            self.mark('compute1_forced_down', t)
        if svc['state'] == 'down':
            self.mark('compute1_down', t)
        if svc['status'] == 'disabled':
            self.mark('compute1_disabled', t)
        for sid, (status, hyp, task) in sample['servers'].items():
            if task:
                self.mark('first_' + task, t)
            if status == 'ERROR':
                self.mark('server_error', t)
            if status == 'ACTIVE' and hyp == 'compute2':
                self.done_at.setdefault(sid, t)
        done = len(ss) == self.n and all(v[0] == 'ACTIVE' and v[1] == 'compute2'
                                         for v in sample['servers'].values())
        if done:
            self.mark('all_active_on_compute2', t)
        if self.notification:
            # microversion 1.0: a busy Masakari engine would delay 1.1's progress details
            st = engine(self.url, 'GET', '/notifications/' + self.notification,
                        mv='1.0')['notification']['status']
            sample['notification'] = st
            self.mark('notification_' + st, t)
            if st in FINAL and not self.final:
                self.final = (st, t)
        self.samples.append(sample)
        return done

    def run(self, finished):
        end = time.time() + TIMEOUT
        while time.time() < end:
            t = time.time()
            if finished(self.tick()):
                return
            time.sleep(max(0, POLL - (time.time() - t)))
        log('TIMEOUT after %.0f s' % TIMEOUT)


def evacuate_all(ids):
    """Evacuate every server at once, one thread each (2.53: no target host)."""
    codes = {}

    def one(sid):
        for _ in range(5):
            r = S.post(NOVA + '/servers/%s/action' % sid, json={'evacuate': {}}, timeout=90,
                       headers={'X-Auth-Token': TOKEN, 'OpenStack-API-Version': 'compute 2.53'})
            codes[sid] = r.status_code
            if r.status_code < 500:
                return
            time.sleep(0.5)
    threads = [threading.Thread(target=one, args=(sid,)) for sid in ids]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return codes


# ------------------------------------------------------------------- trial ---
def wait_duplicate_window(url, host_id):
    """Masakari answers 409 to a notification like one generated within
    duplicate_notification_detection_interval (180 s): wait that out."""
    gen = [datetime.datetime.fromisoformat(x['generated_time'][:19]).replace(
        tzinfo=datetime.timezone.utc).timestamp()
        for x in engine(url, 'GET', '/notifications', mv='1.0')['notifications']
        if x['source_host_uuid'] == host_id]
    w = max(gen, default=0) + DUP_INTERVAL + 2 - time.time()
    if w > 0:
        log('waiting %.0f s for the duplicate-notification window' % w)
        time.sleep(w)


def trial(mode, n, label, url=None):
    out = os.path.join(OUT, 'runs', label)
    os.makedirs(out, exist_ok=True)
    cleanup()
    ids = boot(n, label)
    if mode == 'engine':
        wait_duplicate_window(url, engines()[url]['compute1'])
    quiet()
    rec = {'mode': mode, 'n': n, 'label': label, 'engine': url, 'servers': ids,
           'load_before': open('/proc/loadavg').read().strip()}
    after_heartbeat()
    t_kill = time.time()
    kill_compute1()
    t0 = time.time()
    log('compute1 killed in %.3f s' % (t0 - t_kill))
    rec.update(t_kill=t_kill, t0=t0)
    if mode == 'engine':
        r = engine(url, 'POST', '/notifications', {'notification': {
            'type': 'COMPUTE_HOST', 'hostname': 'compute1', 'generated_time': iso(t0),
            'payload': {'event': 'STOPPED', 'host_status': 'NORMAL', 'cluster_status': 'OFFLINE'}}})
        nid = r['notification']['notification_uuid']
        rec.update(notification=nid, t_posted=time.time())
        log('notification %s posted in %.3f s' % (nid, rec['t_posted'] - t0))
        p = Poller(n, url, nid)
        # until the notification is final and every server is back, or 15 s after a
        # final status without a full recovery
        p.run(lambda done: p.final and (done or time.time() - p.final[1] > 15))
        rec['notification_detail'] = engine(url, 'GET', '/notifications/' + nid)
        try:   # each server's move, where the engine records them (API 1.3)
            rec['vmoves'] = engine(url, 'GET', '/notifications/%s/vmoves' % nid, mv='1.3')['vmoves']
        except (requests.RequestException, RuntimeError, KeyError):
            pass
    else:
        if mode == 'floor-forced':
            nova('PUT', '/os-services/%s' % service()['id'], {'forced_down': True}, mv='2.53')
            rec['t_forced_down'] = time.time()
        elif mode == 'floor-heartbeat':
            while service()['state'] != 'down':
                if time.time() - t0 > 120:
                    raise RuntimeError('compute1 never reported down')
                time.sleep(POLL)
            rec['t_seen_down'] = time.time()
        else:
            raise SystemExit('unknown mode ' + mode)
        rec['evacuate_codes'] = evacuate_all(ids)
        rec['t_evacuations_answered'] = time.time()
        p = Poller(n)
        p.run(lambda done: done)
    rec.update(events=p.first, per_server_done=p.done_at, samples=p.samples, final=p.final,
               load_after=open('/proc/loadavg').read().strip())
    done = p.first.get('all_active_on_compute2')
    rec['ttr'] = round(done - t0, 2) if done else None
    json.dump(rec, open(os.path.join(out, 'trial.json'), 'w'), indent=1)
    rel = {k: round(v - t0, 2) for k, v in sorted(p.first.items(), key=lambda x: x[1])}
    log('RESULT %s N=%d TTR=%s load %s events %s' % (label, n, rec['ttr'],
                                                      rec['load_before'].split()[0], rel))
    with open(os.path.join(OUT, 'results.tsv'), 'a') as f:
        f.write('\t'.join(map(str, [label, mode, n, iso(t0), rec['ttr'],
                                    rec['load_before'].split()[0],
                                    p.final and p.final[0], json.dumps(rel)])) + '\n')


def main():
    os.makedirs(OUT, exist_ok=True)
    a = sys.argv[1:]
    if a[:1] == ['setup'] and len(a) == 2:
        setup(a[1].rstrip('/'))
    elif a == ['cleanup']:
        cleanup()
    elif a[:1] == ['engine'] and len(a) == 4:
        trial('engine', int(a[2]), a[3], a[1].rstrip('/'))
    elif a[:1] in (['floor-forced'], ['floor-heartbeat']) and len(a) == 3:
        trial(a[0], int(a[1]), a[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
