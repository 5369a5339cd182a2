// Prints the client's size as an app ships it: bundled, minified, gzipped.
import { build } from "esbuild";
import { gzipSync } from "node:zlib";

const out = await build({ entryPoints: ["dist/index.js"], bundle: true, minify: true, format: "esm", platform: "browser", write: false });
const code = out.outputFiles[0].contents;
console.log(`@waxseal/client: ${code.length} bytes minified, ${gzipSync(code, { level: 9 }).length} bytes gzipped`);
