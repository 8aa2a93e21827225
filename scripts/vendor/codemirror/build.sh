#!/usr/bin/env bash
# Rebuild the vendored CodeMirror bundle (pinned in package.json / package-lock.json) with its licences.
# Needs node and npm; the output is committed, so neither is needed to run or test the project.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../../callcenter/web/admin/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$here/entry.js" "$work/" 2>/dev/null || cp "$here/package.json" "$here/entry.js" "$work/"
cd "$work"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi
npx esbuild entry.js --bundle --minify --format=iife --global-name=CM --target=es2020 \
  --legal-comments=none --outfile="$out/codemirror.js"
{
  echo "codemirror.js bundles these npm packages (versions from package-lock.json), all under the MIT licence:"
  node -e 'const l=require("./package-lock.json").packages;for(const[k,v]of Object.entries(l)){if(k.startsWith("node_modules/")&&!v.dev)console.log("  "+k.slice(13)+" "+v.version+" "+(v.license||""))}'
  echo
  cat node_modules/codemirror/LICENSE
} > "$out/LICENSE-codemirror.txt"
[ -f "$here/package-lock.json" ] || cp package-lock.json "$here/"
echo "wrote $out/codemirror.js ($(wc -c < "$out/codemirror.js") bytes)"
