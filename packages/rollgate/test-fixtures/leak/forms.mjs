// Every way a program may print a secret value: [label, printed line, the part of the line that encodes the value].
// Used by the stage (leak.mjs), the app (app.mjs) and the test that checks their logs.
const ascii = (s) => s.replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));

export function forms(v) {
  const b = Buffer.from(v);
  const j = JSON.stringify(v).slice(1, -1);
  const out = [
    ['raw', `value=${v}`, v],
    ['json', JSON.stringify({ password: v }), j],
    ['json-ascii', `{"password": "${ascii(j)}"}`, ascii(j)],
    ['json-in-json', JSON.stringify({ body: JSON.stringify({ password: v }) }), JSON.stringify(j).slice(1, -1)],
  ];
  for (const enc of ['base64', 'base64url']) {
    for (let k = 3; k < 6; k++) {
      // The value inside a larger encoded blob, after 3, 4 and 5 bytes: each alignment mod 3.
      const pre = Buffer.from('PREFIX'.slice(0, k));
      const all = Buffer.concat([pre, b, Buffer.from([0xff, 0xfe, 0x00, 0x41])]).toString(enc);
      out.push([`${enc}@${k}`, `blob=${all}`, all.slice(Math.ceil((k * 4) / 3), Math.floor(((k + b.length) * 4) / 3))]);
    }
    out.push([`${enc} alone`, b.toString(enc), b.toString(enc).replace(/=+$/, '')]);
  }
  const hex = b.toString('hex');
  out.push(['hex', `hex=${hex}`, hex], ['HEX', `HEX=${hex.toUpperCase()}`, hex.toUpperCase()]);
  const u = encodeURIComponent(v);
  out.push(['uri', `GET https://api.example/cb?token=${u}&x=1`, u]);
  const lower = u.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
  out.push(['uri-lower', `?token=${lower}`, lower]);
  const f = new URLSearchParams({ user: 'me', password: v }).toString();
  out.push(['form', f, f.slice(f.indexOf('password=') + 'password='.length)]);
  return out;
}
