// The policydsl extension: starts `policydsl lsp` (the language server, over stdio) for .policy files.
// Highlighting comes from syntaxes/policy.tmLanguage.json, which needs no server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("policydsl");
  const command = config.get("server.command") || "policydsl";
  const args = config.get("server.args") || ["lsp"];
  return { command, args, transport: TransportKind.stdio };
}

async function start() {
  client = new LanguageClient("policydsl", "policydsl", serverOptions(), {
    documentSelector: [
      { scheme: "file", language: "policy" },
      { scheme: "untitled", language: "policy" },
    ],
  });
  try {
    await client.start();
  } catch (error) {
    const command = serverOptions().command;
    vscode.window.showErrorMessage(
      `policydsl: could not start \`${command} lsp\` (${error.message}). ` +
        "Install policydsl (pip install policydsl) or set policydsl.server.command to its path. " +
        `无法启动 \`${command} lsp\`：请安装 policydsl，或在设置 policydsl.server.command 中填写它的路径。`
    );
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand("policydsl.restartServer", async () => {
      if (client) {
        await client.stop();
      }
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("policydsl.server")) {
        await vscode.commands.executeCommand("policydsl.restartServer");
      }
    })
  );
  await start();
}

async function deactivate() {
  if (client) {
    await client.stop();
  }
}

module.exports = { activate, deactivate };
