import { useState } from "react";

export default function App() {
  const [count, setCount] = useState(0);

  return (
    <main className="flex min-h-screen items-center justify-center bg-linear-to-br from-slate-50 to-indigo-100 px-6 py-16 text-slate-900">
      <section
        aria-labelledby="welcome-heading"
        className="w-full max-w-xl rounded-3xl bg-white/80 p-10 text-center shadow-xl ring-1 ring-slate-900/5 backdrop-blur"
      >
        <img src="/favicon.svg" alt="" width={64} height={64} className="mx-auto mb-6 h-16 w-16" />
        <h1 id="welcome-heading" className="text-4xl font-bold tracking-tight text-balance sm:text-5xl">
          Welcome to your new app
        </h1>
        <p className="mt-4 text-lg leading-relaxed text-pretty text-slate-600">
          This project runs on React, TypeScript, Vite and Tailwind CSS. Describe what you want to build in the
          chat and watch this page turn into your app.
        </p>
        <div className="mt-8 flex flex-col items-center gap-3">
          <button
            type="button"
            onClick={() => setCount((current) => current + 1)}
            className="rounded-full bg-indigo-600 px-6 py-3 text-base font-semibold text-white shadow-sm transition hover:bg-indigo-500 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 active:bg-indigo-700"
          >
            Click me
          </button>
          <p aria-live="polite" className="text-sm text-slate-500">
            You have clicked the button{" "}
            <span className="font-semibold text-slate-900 tabular-nums">{count}</span>{" "}
            {count === 1 ? "time" : "times"}.
          </p>
        </div>
      </section>
    </main>
  );
}
