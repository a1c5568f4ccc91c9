/**
 * DORA 2024 performance tiers for each delivery metric.
 *
 * Source: DORA, "Accelerate State of DevOps Report 2024", software delivery performance levels
 * (cluster analysis of ~3,000 respondents; corroborated by octopus.com/blog/2024-devops-performance-clusters):
 *
 *   tier    share  deployment frequency                      change lead time        change fail rate  failed deployment recovery
 *   elite   19%    on demand (multiple deploys per day)      < 1 day                 5%                < 1 hour
 *   high    22%    once per day .. once per week              1 day .. 1 week         20%               < 1 day
 *   medium  35%    once per week .. once per month            1 week .. 1 month       10%               < 1 day
 *   low     25%    once per month .. once every six months    1 month .. 6 months     40%               1 week .. 1 month
 *
 * The report gives bands, not cut points, so three readings are ours (documented where used):
 * - Change fail rate: the 2024 clusters are not ordered (medium 10% < high 20%); a rate gets the
 *   tier whose cluster figure it is nearest to (cut points at the midpoints 7.5%, 15%, 30%).
 * - Recovery time: high and medium are both "< 1 day" and 1 day .. 1 week falls between bands;
 *   < 1 hour is elite, < 1 day high, < 1 week medium (closing the gap), else low.
 * - Figures beyond the low band (deploying less than every six months, lead time over six months)
 *   are still low.
 * Rework rate (introduced in the 2024 report) has no published tiers.
 */
export type DoraTier = 'elite' | 'high' | 'medium' | 'low';

const HOUR = 3600;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** A month as DORA's bands use it: 30 days. */
const MONTH = 30 * DAY;

/** Deployments per day → tier. Elite deploys on demand, which averages at least once a day. */
export function deploymentFrequencyTier(perDay: number): DoraTier {
  if (perDay >= 1) return 'elite';
  if (perDay * 7 >= 1) return 'high';
  if (perDay * (MONTH / DAY) >= 1) return 'medium';
  return 'low';
}

/** Median lead time in seconds → tier (upper bounds exclusive: exactly one day is high). */
export function leadTimeTier(seconds: number): DoraTier {
  if (seconds < DAY) return 'elite';
  if (seconds < WEEK) return 'high';
  if (seconds < MONTH) return 'medium';
  return 'low';
}

/** Change failure rate (0..1) → tier of the nearest 2024 cluster figure (ties go to the better tier). */
export function changeFailureRateTier(rate: number): DoraTier {
  if (rate <= 0.075) return 'elite';
  if (rate <= 0.15) return 'medium';
  if (rate <= 0.3) return 'high';
  return 'low';
}

/** Median recovery time in seconds → tier. */
export function recoveryTimeTier(seconds: number): DoraTier {
  if (seconds < HOUR) return 'elite';
  if (seconds < DAY) return 'high';
  if (seconds < WEEK) return 'medium';
  return 'low';
}
