/**
 * Calls one of the simulator's dev endpoints (the phone's side) under `base`, an in-process simulator's
 * `${t.url}${SIMULATOR_PREFIX}` or a standalone one's `sim.base`: GET without a body, POST with a JSON one. Answers
 * the JSON reply; anything but a 200 throws with the status and the reply.
 */
export async function simulatorDev<T = Record<string, unknown>>(
  base: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
