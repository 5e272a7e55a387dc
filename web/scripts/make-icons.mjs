// Writes the PNG app icons (no image tools needed): a rounded green square with a white
// speech bubble and three dots, drawn per pixel with 4x supersampling.
import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel(x, y);
      const o = y * (size * 4 + 1) + 1 + x * 4;
      raw[o] = r; raw[o + 1] = g; raw[o + 2] = b; raw[o + 3] = a;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}
const GREEN = [0x2f, 0x7d, 0x5b], WHITE = [255, 255, 255];
function inRoundRect(x, y, x0, y0, x1, y1, r) {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.max(x0 + r, Math.min(x, x1 - r)), cy = Math.max(y0 + r, Math.min(y, y1 - r));
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}
// Shape in a 512 unit box; `inset` shrinks the artwork for maskable icons.
function shade(u, v, maskable) {
  const bg = maskable ? true : inRoundRect(u, v, 0, 0, 512, 512, 112);
  if (!bg) return null;
  const s = maskable ? 0.72 : 1, c = 256;
  const x = (u - c) / s + c, y = (v - c) / s + c;
  const bubble = inRoundRect(x, y, 88, 144, 424, 360, 40) || (x >= 152 && x <= 232 && y >= 350 && y <= 424 && (x - 152) <= (424 - y) * 1.1 + 4);
  if (bubble) {
    for (const dx of [192, 256, 320]) if ((x - dx) ** 2 + (y - 252) ** 2 <= 22 * 22) return GREEN;
    return WHITE;
  }
  return GREEN;
}
function icon(size, maskable) {
  return png(size, (px, py) => {
    let r = 0, g = 0, b = 0, a = 0;
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) {
      const u = ((px + (i + 0.5) / 4) / size) * 512, v = ((py + (j + 0.5) / 4) / size) * 512;
      const col = shade(u, v, maskable);
      if (col) { r += col[0]; g += col[1]; b += col[2]; a += 255; }
    }
    const n = a / 255 || 1;
    return [Math.round(r / n), Math.round(g / n), Math.round(b / n), Math.round(a / 16)];
  });
}
const out = new URL("../public/icons/", import.meta.url);
writeFileSync(new URL("icon-192.png", out), icon(192, false));
writeFileSync(new URL("icon-512.png", out), icon(512, false));
writeFileSync(new URL("icon-maskable-512.png", out), icon(512, true));
console.log("icons written");
