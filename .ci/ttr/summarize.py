#!/usr/bin/python3
"""The table of the trials in $TTR_OUT/runs (the last trial of each label wins).

    summarize.py            TTR by N: kaifuku, Masakari and Nova's floor, in both
                            modes, with kaifuku's target (1.10 x floor + 1 s) and
                            the 1-minute load at each trial
    summarize.py LABEL...   and the timeline of those trials (s after t0): Nova's
                            events, each server, the engine's recorded progress
"""
import datetime
import glob
import json
import os
import re
import sys

OUT = os.environ.get('TTR_OUT', '/var/tmp/ttr')


def load():
    rs = {}
    for p in sorted(glob.glob(os.path.join(OUT, 'runs', '*', 'trial.json')), key=os.path.getmtime):
        r = json.load(open(p))
        rs[r['label']] = r
    return rs


def cell(r):
    if not r:
        return '-'
    if r['ttr'] is None:
        return 'no recovery (load %s)' % r['load_before'].split()[0]
    return '%.1f s (%s)' % (r['ttr'], r['load_before'].split()[0])


def verdict(k, f):
    if not k or not f or k['ttr'] is None or f['ttr'] is None:
        return '-'
    target = 1.10 * f['ttr'] + 1
    return '%.1f s: %s' % (target, 'met' if k['ttr'] <= target else 'missed')


def table(rs):
    ns = sorted({r['n'] for r in rs.values()})
    masakari = {r['n']: r for lb, r in rs.items() if lb.startswith('masakari-')}
    wait = sorted({re.sub(r'^masakari-w(\d+)-.*', r'\1', lb) for lb in rs if lb.startswith('masakari-')})
    print('| N | mode | kaifuku | Nova floor | target 1.10 × floor + 1 s | Masakari%s |' % (
        ' (wait_period_after_service_update %s s)' % '/'.join(wait) if wait else ''))
    print('|---|---|---|---|---|---|')
    for n in ns:
        for mode in ('forced', 'heartbeat'):
            k, f = rs.get('kaifuku-%s-n%d' % (mode, n)), rs.get('floor-%s-n%d' % (mode, n))
            m = masakari.get(n) if mode == 'heartbeat' else None
            print('| %d | %s | %s | %s | %s | %s |' % (
                n, 'forced down' if mode == 'forced' else 'heartbeat', cell(k), cell(f),
                verdict(k, f), cell(m) if mode == 'heartbeat' else 'no such mode'))


def ts(s):
    for f in ('%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S.%fZ',
              '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S'):
        try:
            return datetime.datetime.strptime(s, f).replace(tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            pass
    try:
        return datetime.datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp()
    except ValueError:
        return None


def timeline(r):
    t0 = r['t0']
    print('%s: t0 %s UTC, load %s, TTR %s s' % (
        r['label'], datetime.datetime.fromtimestamp(t0, datetime.timezone.utc).isoformat(),
        r['load_before'], r['ttr']))
    print('  %+8.2f  kill began' % (r['t_kill'] - t0))
    for k in ('t_posted', 't_forced_down', 't_seen_down', 't_evacuations_answered'):
        if k in r:
            print('  %+8.2f  %s' % (r[k] - t0, k[2:]))
    for k, v in sorted(r['events'].items(), key=lambda x: x[1]):
        print('  %+8.2f  %s' % (v - t0, k))
    for sid, v in sorted(r['per_server_done'].items(), key=lambda x: x[1]):
        print('  %+8.2f  server %s ACTIVE on compute2' % (v - t0, sid))
    n = (r.get('notification_detail') or {}).get('notification')
    if n:
        print('  notification %s: %s' % (n['notification_uuid'], n['status']))
        for task in n.get('recovery_workflow_details') or []:
            print('    task %s: %s' % (task['name'], task['state']))
            for pd in task.get('progress_details') or []:
                t = ts(pd['timestamp'])
                print('      %+8.2f  %s' % ((t - t0) if t else float('nan'), pd['message'][:140]))
    for v in r.get('vmoves') or []:
        t = [ts(v[k]) if v.get(k) else None for k in ('start_time', 'end_time')]
        print('  vmove %s %s: %s' % (v['instance_uuid'], v['status'], ', '.join(
            '%s %+.2f' % (k, x - t0) for k, x in zip(('start', 'end'), t) if x)))


def main():
    rs = load()
    table(rs)
    for lb in sys.argv[1:]:
        print()
        timeline(rs[lb])


if __name__ == '__main__':
    main()
