// Runs the two email checks on one HTML file and prints one JSON report:
//   node check-email.mjs email.html "gmail.*,outlook.*,apple-mail.*"
// doiuse-email: features the named mail clients do not support (caniemail.com data);
// html-validate: HTML errors, with the rules in htmlvalidate.json.
import { readFileSync } from "node:fs";
import { doIUseEmail } from "doiuse-email";
import { HtmlValidate } from "html-validate";

const [file, clients] = process.argv.slice(2);
const html = readFileSync(file, "utf8");
const doiuse = doIUseEmail(html, { emailClients: clients.split(",") });
const config = JSON.parse(readFileSync(new URL("./htmlvalidate.json", import.meta.url), "utf8"));
const report = await new HtmlValidate(config).validateString(html, file);
const messages = report.results.flatMap((result) =>
  result.messages.map((m) => `${m.ruleId}: ${m.message} (line ${m.line})`),
);
console.log(JSON.stringify({ doiuse, htmlValidate: { valid: report.valid, messages } }, null, 2));
