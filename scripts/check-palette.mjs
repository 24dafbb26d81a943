// The role palette under colour-vision deficiencies: reads the --role-<name> colours from
// src/ui/styles.css, simulates protanopia, deuteranopia and tritanopia with the Machado, Oliveira
// and Fernandes (2009) matrices at full severity (applied in linear sRGB), and prints the closest
// pair of roles by CIEDE2000 for each, plus each colour's contrast against white (a non-text cue
// needs 3:1). Exits 1 when a pair is closer than MIN_DE or a colour is under 3:1.
//   node scripts/check-palette.mjs
import { readFileSync } from 'node:fs';

const MIN_DE = 10;
const MACHADO = {
  normal: [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
  protanopia: [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
  deuteranopia: [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.01182, 0.04294, 0.968881]],
  tritanopia: [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.3039]],
};

const css = readFileSync(new URL('../src/ui/styles.css', import.meta.url), 'utf8');
const roles = [...css.matchAll(/--role-([a-z_]+):\s*(#[0-9a-f]{6});/gi)].map((m) => ({ name: m[1], hex: m[2] }));

const toLinear = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const linearRgb = (hex) => [1, 3, 5].map((i) => toLinear(parseInt(hex.slice(i, i + 2), 16) / 255));
const clamp = (x) => Math.min(1, Math.max(0, x));

function lab([r, g, b]) {
  const [R, G, B] = [r, g, b].map(clamp);
  const X = 0.4124 * R + 0.3576 * G + 0.1805 * B;
  const Y = 0.2126 * R + 0.7152 * G + 0.0722 * B;
  const Z = 0.0193 * R + 0.1192 * G + 0.9505 * B;
  const f = (t) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  const [fx, fy, fz] = [f(X / 0.95047), f(Y), f(Z / 1.08883)];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

const rad = (d) => (d * Math.PI) / 180;
function deltaE2000([L1, a1, b1], [L2, a2, b2]) {
  const Cb = (Math.hypot(a1, b1) + Math.hypot(a2, b2)) / 2;
  const G = 0.5 * (1 - Math.sqrt(Cb ** 7 / (Cb ** 7 + 25 ** 7)));
  const [a1p, a2p] = [(1 + G) * a1, (1 + G) * a2];
  const [C1, C2] = [Math.hypot(a1p, b1), Math.hypot(a2p, b2)];
  const hue = (b, a) => ((Math.atan2(b, a) * 180) / Math.PI + 360) % 360;
  const [h1, h2] = [hue(b1, a1p), hue(b2, a2p)];
  let dh = h2 - h1;
  if (C1 * C2 === 0) dh = 0;
  else if (dh > 180) dh -= 360;
  else if (dh < -180) dh += 360;
  const dH = 2 * Math.sqrt(C1 * C2) * Math.sin(rad(dh / 2));
  const Lb = (L1 + L2) / 2;
  const Cbp = (C1 + C2) / 2;
  let hb = h1 + h2;
  if (C1 * C2 !== 0) hb = Math.abs(h1 - h2) <= 180 ? hb / 2 : hb < 360 ? (hb + 360) / 2 : (hb - 360) / 2;
  const T = 1 - 0.17 * Math.cos(rad(hb - 30)) + 0.24 * Math.cos(rad(2 * hb)) + 0.32 * Math.cos(rad(3 * hb + 6)) - 0.2 * Math.cos(rad(4 * hb - 63));
  const RC = 2 * Math.sqrt(Cbp ** 7 / (Cbp ** 7 + 25 ** 7));
  const RT = -Math.sin(rad(2 * 30 * Math.exp(-(((hb - 275) / 25) ** 2)))) * RC;
  const SL = 1 + (0.015 * (Lb - 50) ** 2) / Math.sqrt(20 + (Lb - 50) ** 2);
  const SC = 1 + 0.045 * Cbp;
  const SH = 1 + 0.015 * Cbp * T;
  const [dL, dC] = [L2 - L1, C2 - C1];
  return Math.sqrt((dL / SL) ** 2 + (dC / SC) ** 2 + (dH / SH) ** 2 + RT * (dC / SC) * (dH / SH));
}

const apply = (m, v) => m.map((row) => row[0] * v[0] + row[1] * v[1] + row[2] * v[2]);
const luminance = (hex) => {
  const [r, g, b] = linearRgb(hex);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};

let failed = false;
for (const [vision, m] of Object.entries(MACHADO)) {
  const labs = roles.map((r) => lab(apply(m, linearRgb(r.hex))));
  let worst = { de: Infinity, pair: '' };
  for (let i = 0; i < roles.length; i++)
    for (let j = i + 1; j < roles.length; j++) {
      const de = deltaE2000(labs[i], labs[j]);
      if (de < worst.de) worst = { de, pair: `${roles[i].name} / ${roles[j].name}` };
    }
  console.log(`${vision.padEnd(13)} closest pair ΔE2000 ${worst.de.toFixed(1).padStart(5)}  (${worst.pair})`);
  if (worst.de < MIN_DE) failed = true;
}
for (const r of roles) {
  const contrast = 1.05 / (luminance(r.hex) + 0.05);
  console.log(`${r.name.padEnd(10)} ${r.hex}  ${contrast.toFixed(2)}:1 on white`);
  if (contrast < 3) failed = true;
}
process.exit(failed ? 1 : 0);
