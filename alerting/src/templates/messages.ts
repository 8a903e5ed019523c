// Message strings for notifications and the acknowledgement page, in English and Korean.
// The locale is chosen per channel, else per route, else per receiver, else `alerting.locale`.

export const LOCALES = ['en', 'ko'] as const;
export type Locale = (typeof LOCALES)[number];

export interface Messages {
  status: { firing: string; resolved: string; nodata: string; error: string };
  severity: string;
  value: string;
  labels: string;
  startedAt: string;
  endedAt: string;
  ack: string;
  silence: string;
  logs: string;
  source: string;
  error: string;
  acknowledgedBy: (by: string) => string;
  escalation: (step: number, steps: number, cycle: number, repeat: number) => string;
  alertCount: (firing: number, resolved: number) => string;
  truncated: (n: number) => string;
  page: {
    title: string;
    confirm: string;
    name: string;
    comment: string;
    button: string;
    done: (by: string) => string;
    invalid: string;
    expired: string;
    notActive: string;
    unavailable: string;
  };
}

const en: Messages = {
  status: { firing: 'FIRING', resolved: 'RESOLVED', nodata: 'NO DATA', error: 'EVALUATION ERROR' },
  severity: 'Severity',
  value: 'Value',
  labels: 'Labels',
  startedAt: 'Started',
  endedAt: 'Ended',
  ack: 'Acknowledge',
  silence: 'Silence',
  logs: 'Logs around the alert',
  source: 'Source',
  error: 'Error',
  acknowledgedBy: (by) => `Acknowledged by ${by}`,
  escalation: (step, steps, cycle, repeat) => `Escalation step ${step}/${steps}${repeat > 1 ? ` (round ${cycle}/${repeat})` : ''}`,
  alertCount: (firing, resolved) => [firing ? `${firing} firing` : '', resolved ? `${resolved} resolved` : ''].filter(Boolean).join(', '),
  truncated: (n) => `…and ${n} more alert${n === 1 ? '' : 's'}`,
  page: {
    title: 'Acknowledge alert',
    confirm: 'Acknowledging stops the escalation of this alert until it resolves.',
    name: 'Your name',
    comment: 'Comment (optional)',
    button: 'Acknowledge',
    done: (by) => `Acknowledged by ${by}. The escalation has stopped.`,
    invalid: 'This acknowledgement link is not valid.',
    expired: 'This acknowledgement link has expired.',
    notActive: 'This alert is no longer firing; there is nothing to acknowledge.',
    unavailable: 'Alerting is restarting (a configuration reload or a collector restart) and could not take this acknowledgement: nothing was acknowledged. Open the link again in a moment.',
  },
};

const ko: Messages = {
  status: { firing: '발생', resolved: '해결됨', nodata: '데이터 없음', error: '평가 오류' },
  severity: '심각도',
  value: '값',
  labels: '레이블',
  startedAt: '시작 시각',
  endedAt: '종료 시각',
  ack: '확인(ACK)',
  silence: '알림 끄기(사일런스)',
  logs: '알림 전후 로그 보기',
  source: '출처',
  error: '오류',
  acknowledgedBy: (by) => `${by} 님이 확인함`,
  escalation: (step, steps, cycle, repeat) => `에스컬레이션 ${step}/${steps}단계${repeat > 1 ? ` (${cycle}/${repeat}회차)` : ''}`,
  alertCount: (firing, resolved) => [firing ? `발생 ${firing}건` : '', resolved ? `해결 ${resolved}건` : ''].filter(Boolean).join(', '),
  truncated: (n) => `…외 ${n}건`,
  page: {
    title: '알림 확인',
    confirm: '확인하면 이 알림이 해결될 때까지 에스컬레이션이 중단됩니다.',
    name: '이름',
    comment: '메모 (선택)',
    button: '확인',
    done: (by) => `${by} 님이 확인했습니다. 에스컬레이션이 중단되었습니다.`,
    invalid: '유효하지 않은 확인 링크입니다.',
    expired: '확인 링크가 만료되었습니다.',
    notActive: '이 알림은 더 이상 발생 중이 아니어서 확인할 것이 없습니다.',
    unavailable: '알림 처리가 다시 시작되는 중(설정 다시 읽기 또는 수집기 재시작)이라 확인을 받지 못했습니다. 아무것도 확인되지 않았으니 잠시 후 링크를 다시 열어 주세요.',
  },
};

const ALL: Record<Locale, Messages> = { en, ko };

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

/** Messages for `locale` (English when unknown). */
export function messagesFor(locale: string | undefined): Messages {
  return isLocale(locale) ? ALL[locale] : en;
}

/** Picks `ko` when the Accept-Language header prefers Korean over English. */
export function localeFromAcceptLanguage(header: string | undefined): Locale {
  if (!header) return 'en';
  const prefs = header
    .split(',')
    .map((part) => {
      const [tag, q] = part.trim().split(';q=');
      return { tag: tag.toLowerCase(), q: q === undefined ? 1 : Number(q) };
    })
    .sort((a, b) => b.q - a.q);
  for (const p of prefs) {
    if (p.tag.startsWith('ko')) return 'ko';
    if (p.tag.startsWith('en')) return 'en';
  }
  return 'en';
}
