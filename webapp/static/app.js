// The course chatbot page: send the question to this page's own server, show what comes back.
// Everything from the server is inserted with textContent, never as HTML.
"use strict";

function show(id, text) {
  const element = document.getElementById(id);
  element.textContent = text;
  element.hidden = false;
}

async function ask(event) {
  event.preventDefault();
  const question = document.getElementById("question").value.trim();
  const button = document.getElementById("ask");
  document.getElementById("error").hidden = true;
  document.getElementById("result").hidden = true;
  if (!question) {
    show("error", "Type a question first.");
    return;
  }
  button.disabled = true;
  button.textContent = "Asking…";
  try {
    const reply = await fetch("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question }),
    });
    const data = await reply.json();
    if (!reply.ok) {
      show("error", data.error || `The server answered ${reply.status}.`);
      return;
    }
    document.getElementById("answer").textContent =
      (data.answer || "(the model returned no text)") + (data.cut ? " … [cut off at the answer length limit]" : "");
    document.getElementById("model").textContent = data.model;
    document.getElementById("used").textContent =
      data.lessons.map((lesson) => `${lesson.number} · ${lesson.title} (${lesson.notebook})`).join("; ");
    document.getElementById("result").hidden = false;
  } catch (error) {
    show("error", `Could not reach the server: ${error}`);
  } finally {
    button.disabled = false;
    button.textContent = "Ask";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("ask-form").addEventListener("submit", ask);
  for (const sample of document.querySelectorAll("button.sample")) {
    sample.addEventListener("click", () => {
      document.getElementById("question").value = sample.dataset.question;
      document.getElementById("question").focus();
    });
  }
});
