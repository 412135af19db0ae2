namespace Tributary.Testing;

/// <summary>A small, deterministic shop database for PostgreSQL tests (PostgreSQL 15).</summary>
/// <remarks>
/// Schema <c>public</c>: enum <c>order_status</c>; tables <c>customers</c> (200 rows), <c>products</c> (50),
/// <c>orders</c> (5000: customer ids cycle 1..200, statuses cycle through the enum, every 7th note is NULL) and
/// <c>order_items</c> (1 to 3 per order, 10001 in all); view <c>order_totals</c>. Schema <c>audit_demo</c>: table
/// <c>events</c> with 3 rows of varied types, NULLs included. Every value is derived from row numbers, so each seed is
/// identical.
/// </remarks>
public static class PostgresShop
{
    /// <summary>The script that creates and fills the shop, then analyzes it.</summary>
    public const string Schema = """
        CREATE TYPE public.order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled');

        CREATE TABLE public.customers (
            id serial PRIMARY KEY,
            email text NOT NULL UNIQUE,
            name text NOT NULL,
            country char(2) NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE public.customers IS 'People who have an account with the shop.';
        COMMENT ON COLUMN public.customers.email IS 'Login and contact address; unique.';

        CREATE TABLE public.products (
            id serial PRIMARY KEY,
            sku varchar(32) NOT NULL UNIQUE,
            name text NOT NULL,
            price numeric(10,2) NOT NULL CHECK (price >= 0)
        );

        CREATE TABLE public.orders (
            id serial PRIMARY KEY,
            customer_id int NOT NULL REFERENCES public.customers(id) ON DELETE CASCADE,
            status public.order_status NOT NULL DEFAULT 'pending',
            total numeric(12,2) NOT NULL CHECK (total >= 0),
            note text,
            created_at timestamptz NOT NULL,
            version int NOT NULL DEFAULT 1
        );
        CREATE INDEX orders_customer_id_created_at_idx ON public.orders (customer_id, created_at);

        CREATE TABLE public.order_items (
            order_id int REFERENCES public.orders(id) ON DELETE CASCADE,
            product_id int REFERENCES public.products(id),
            quantity int NOT NULL CHECK (quantity > 0),
            PRIMARY KEY (order_id, product_id)
        );

        CREATE VIEW public.order_totals AS
            SELECT customer_id, count(*) AS orders, sum(total) AS revenue
            FROM public.orders
            GROUP BY customer_id;

        CREATE SCHEMA audit_demo;
        CREATE TABLE audit_demo.events (
            id bigserial PRIMARY KEY,
            payload jsonb,
            tags text[],
            happened_at timestamp,
            uid uuid,
            flag boolean,
            amount double precision,
            raw bytea
        );

        INSERT INTO public.customers (email, name, country, created_at)
        SELECT format('customer%s@example.com', lpad(n::text, 3, '0')),
               format('Customer %s', n),
               (ARRAY['US', 'DE', 'FR', 'GB', 'JP', 'BR', 'IN', 'CA'])[1 + n % 8],
               timestamptz '2023-01-01 00:00:00+00' + n * interval '1 day'
        FROM generate_series(1, 200) AS n;

        INSERT INTO public.products (sku, name, price)
        SELECT format('SKU-%s', lpad(n::text, 4, '0')),
               format('Product %s', n),
               ((n * 37) % 500 + 0.99)::numeric(10,2)
        FROM generate_series(1, 50) AS n;

        INSERT INTO public.orders (customer_id, status, total, note, created_at)
        SELECT 1 + (n - 1) % 200,
               (enum_range(NULL::public.order_status))[1 + (n - 1) % 5],
               ((n * 7919) % 100000 / 100.0)::numeric(12,2),
               CASE WHEN n % 7 = 0 THEN NULL ELSE format('Order %s', n) END,
               timestamptz '2024-01-01 00:00:00+00' + (n - 1) * interval '97 minutes'
        FROM generate_series(1, 5000) AS n;

        INSERT INTO public.order_items (order_id, product_id, quantity)
        SELECT o, 1 + (o * 7 + k * 11) % 50, 1 + (o + k) % 4
        FROM generate_series(1, 5000) AS o, generate_series(1, 1 + o % 3) AS k;

        INSERT INTO audit_demo.events (payload, tags, happened_at, uid, flag, amount, raw) VALUES
            ('{"kind": "login", "user": {"id": 1, "roles": ["admin"]}, "ok": true}', ARRAY['auth', 'ünïcode', 'with space'],
             timestamp '2024-02-29 12:34:56.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, 3.14159, '\xdeadbeef'),
            (NULL, NULL, NULL, NULL, NULL, NULL, NULL),
            ('[]', ARRAY[]::text[], timestamp '1999-12-31 23:59:59', '00000000-0000-0000-0000-000000000000', false,
             'Infinity', '\x');

        ANALYZE;
        """;

    /// <summary>Creates and fills the shop in the (empty) database of <paramref name="connectionString"/>.</summary>
    public static Task SeedAsync(PostgresServer server, string connectionString)
    {
        ArgumentNullException.ThrowIfNull(server);
        return server.ExecuteAsync(connectionString, Schema);
    }
}
