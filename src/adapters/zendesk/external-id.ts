/**
 * The bridge marks each ticket with `external_id = blip-<session id without dashes>` (as in the shared fixtures),
 * so an event can name its handoff session even before the bridge has recorded the ticket id.
 */
export function externalIdFor(sessionId: string): string {
  return `blip-${sessionId.replace(/-/g, '')}`;
}

export function sessionIdFrom(externalId: string | null | undefined): string | undefined {
  const hex = /^blip-([0-9a-f]{32})$/i.exec(externalId ?? '')?.[1]?.toLowerCase();
  if (!hex) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
