export function Logo({ size = 34 }: { size?: number }) {
  return (
    <svg className="logo" width={size} height={size} viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="8" fill="#1d2333" />
      <path d="M9 11l6 5-6 5" fill="none" stroke="#7aa2ff" strokeWidth="2.6" strokeLinecap="round" strokeLinejoin="round" />
      <path d="M17 22h7" stroke="#4ade80" strokeWidth="2.6" strokeLinecap="round" />
    </svg>
  );
}
