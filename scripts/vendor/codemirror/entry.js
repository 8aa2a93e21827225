// What the IVR editor page uses from CodeMirror 6; build.sh bundles it as the global `CM`.
export {basicSetup} from "codemirror";
export {EditorView, keymap} from "@codemirror/view";
export {EditorState, Compartment} from "@codemirror/state";
export {yaml} from "@codemirror/lang-yaml";
export {linter, lintGutter, setDiagnostics, forceLinting} from "@codemirror/lint";
