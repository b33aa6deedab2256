/**
 * The workflow cron rules (`infra/devserver/cron.ts`) against the cases Temporal's server tests its own with
 * (`common/backoff/cron_test.go`: the wait from a scheduled time and a current time to the next cron time, rounded
 * up to whole seconds), plus the parser's refusals and robfig/cron's day rule.
 */
import { CronError, cronBackoffMs, firstCronBackoffMs, parseWorkflowCron } from '../../infra/devserver/cron';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe('workflow cron backoff', () => {
  it.each([
    ['0 10 * * *', '2018-12-17T08:00:00-08:00', '', 18 * HOUR],
    ['0 10 * * *', '2018-12-18T02:00:00-08:00', '', 24 * HOUR],
    ['0 * * * *', '2018-12-17T08:08:00+00:00', '', 52 * MINUTE],
    ['0 * * * *', '2018-12-17T09:00:00+00:00', '', HOUR],
    ['* * * * *', '2018-12-17T08:08:18+00:00', '', 42 * SECOND],
    ['0 10 * * *', '2018-12-17T08:00:00+00:00', '2018-12-20T00:00:00+00:00', 10 * HOUR],
    ['0 10 * * *', '2018-12-17T08:00:00+00:00', '2018-12-17T09:00:00+00:00', HOUR],
    ['*/10 * * * *', '2018-12-17T00:04:00+00:00', '2018-12-17T01:02:00+00:00', 8 * MINUTE],
    ['@every 5h', '2018-12-17T08:00:00+00:00', '2018-12-17T09:00:00+00:00', 4 * HOUR],
    ['@every 5h', '2018-12-17T08:00:00+00:00', '2018-12-18T00:00:00+00:00', 4 * HOUR],
    ['0 3 * * 0-6', '2018-12-17T08:00:00-08:00', '', 11 * HOUR],
    ['@every 30s', '2020-07-17T09:00:02-01:00', '2020-07-17T09:00:02-01:00', 30 * SECOND],
    ['@every 30s', '2020-07-17T09:00:02-01:00', '2020-09-17T03:00:53-01:00', 9 * SECOND],
    ['@every 30m', '2020-07-17T09:00:00-01:00', '2020-07-17T08:45:00-01:00', 15 * MINUTE],
    ['CRON_TZ=America/New_York 5 16 * * *', '2021-03-14T00:00:00-04:00', '2021-03-14T15:05:00-04:00', HOUR],
    ['CRON_TZ=America/New_York 5 4 * * *', '2021-11-25T00:00:00-05:00', '2021-11-25T03:05:00-05:00', HOUR],
  ])('%s from %s (now %s) waits %d ms', (cron, scheduled, now, expected) => {
    const scheduledTime = Date.parse(scheduled);
    expect(cronBackoffMs(parseWorkflowCron(cron), scheduledTime, now ? Date.parse(now) : scheduledTime)).toBe(expected);
  });

  it('rounds the wait up to whole seconds', () => {
    const now = Date.parse('2024-05-01T10:20:30.300Z');
    expect(firstCronBackoffMs(parseWorkflowCron('0 * * * *'), now)).toBe(39 * MINUTE + 30 * SECOND);
  });

  it('matches a day by either day field when both are restricted, by both when one is *', () => {
    const monday = Date.parse('2024-01-01T00:00:00Z');
    // The 13th, or any Friday: Friday 5 January comes first.
    expect(cronBackoffMs(parseWorkflowCron('0 0 13 * 5'), monday, monday)).toBe(4 * 24 * HOUR);
    // Every Friday (day of month *): the same Friday.
    expect(cronBackoffMs(parseWorkflowCron('0 0 * * fri'), monday, monday)).toBe(4 * 24 * HOUR);
    // A step makes * a restriction: the 1st, 3rd, … or a Friday.
    expect(cronBackoffMs(parseWorkflowCron('0 0 */2 * 5'), monday, monday)).toBe(2 * 24 * HOUR);
  });

  it('ends a chain with no next time', () => {
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(cronBackoffMs(parseWorkflowCron('0 0 30 2 *'), now, now)).toBeUndefined();
    expect(firstCronBackoffMs(parseWorkflowCron('0 0 30 2 *'), now)).toBe(0);
  });

  it.each([
    'invalid-cron-spec',
    '* * * * * *',
    '* * * *',
    '0 0 * * 7',
    '60 * * * *',
    '0 24 * * *',
    '0 0 0 * *',
    '0 0 * 13 *',
    '5-1 * * * *',
    '*/0 * * * *',
    '1/2/3 * * * *',
    '@fortnightly',
    '@every',
    '@every 5 minutes',
    'CRON_TZ=Nowhere/Land 0 * * * *',
    '',
  ])('refuses %j as robfig/cron does', (cron) => {
    expect(() => parseWorkflowCron(cron)).toThrow(CronError);
  });

  it.each([
    '0 0 1 jan *',
    '@yearly',
    '@every 1h30m',
    '@every 500ms',
    'TZ=UTC 0 0 * * sun',
    '? * * * ?',
    '0,30 8-17/2 * * mon-fri',
  ])('accepts %j', (cron) => {
    expect(() => parseWorkflowCron(cron)).not.toThrow();
  });
});
